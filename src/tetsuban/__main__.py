"""python -m tetsuban"""

from tetsuban.cli import main

main()
