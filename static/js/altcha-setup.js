// The ALTCHA widget (vendored from the npm package's "external" build: no inline styles or
// workers, so the strict CSP holds) with its SHA worker served from here.
import "../vendor/altcha-3.2.2/altcha.min.js";

const workerUrl = new URL("../vendor/altcha-3.2.2/sha.js", import.meta.url);
for (const name of ["SHA-256", "SHA-384", "SHA-512"]) {
  globalThis.$altcha.algorithms.set(name, () => new Worker(workerUrl));
}
