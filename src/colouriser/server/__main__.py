"""``python -m colouriser.server [options]``: the same as ``colouriser serve [options]``."""

import sys

from .command import add_serve_parser, cmd_serve

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m colouriser.server")
    sub = parser.add_subparsers(dest="command")
    add_serve_parser(sub)
    sys.exit(cmd_serve(parser.parse_args(["serve", *sys.argv[1:]])))
