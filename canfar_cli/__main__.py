"""`python -m canfar_cli` runs the same program as `canfar`."""

from canfar_cli.cli.entry import main

if __name__ == "__main__":
    main()
