"""placeholder"""

NAME = "aixm"


def sniff(head: str) -> bool:
    return False
