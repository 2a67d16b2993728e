"""Page parts more than one audience shows: an order's photos, a party's money."""
