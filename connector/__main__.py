"""``python -m connector`` is ``segsync``."""

from connector.cli import main

if __name__ == "__main__":
    main()
