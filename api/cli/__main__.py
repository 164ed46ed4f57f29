"""``python -m api.cli``: the ``retrace`` command."""

from api.cli.main import main

if __name__ == "__main__":
    main()
