"""placeholder"""

NAME = "ed269"


def sniff(head: str) -> bool:
    return False
