"""The bettors' pages under /tote (US-280, US-281, US-290): the live board, pools and bets, my
bets, the leaderboard and the settle-up."""

from app.web.tote import (  # importing the view modules registers their routes
    board,
    my_bets,
    standings,
)
from app.web.tote.blueprint import bp

__all__ = ["board", "bp", "my_bets", "standings"]
