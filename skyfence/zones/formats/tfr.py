"""placeholder"""

NAME = "tfr"


def sniff(head: str) -> bool:
    return False
