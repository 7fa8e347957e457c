"""placeholder"""

NAME = "ed318"


def sniff(head: str) -> bool:
    return False
