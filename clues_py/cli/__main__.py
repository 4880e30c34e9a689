"""`python3 -m clues_py.cli` runs the `clues` command (tests use it without the script)."""

from clues_py.cli.main import main

if __name__ == "__main__":
    main()
