// Counts down the time the server gave the test; at zero the page reloads and the server scores it.
(function () {
  const el = document.getElementById("time-left");
  if (!el) return;
  let left = parseInt(el.dataset.seconds, 10);
  const started = Date.now();
  const tick = () => {
    const now = Math.max(0, left - Math.floor((Date.now() - started) / 1000));
    el.textContent = Math.floor(now / 60) + ":" + String(now % 60).padStart(2, "0");
    if (now <= 0) { window.location.reload(); return; }
    setTimeout(tick, 1000);
  };
  tick();
})();
