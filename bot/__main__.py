"""``python -m bot`` and the ``sora-bot`` console script."""

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
