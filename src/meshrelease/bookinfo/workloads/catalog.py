"""The bookstore's data: the one product, its details, the two reviews and the default ratings."""

from __future__ import annotations

from typing import Any

PRODUCT_ID = 0
PRODUCT_TITLE = "The Comedy of Errors"
PRODUCT_DESCRIPTION_HTML = (
    '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: '
    "one of <b>William Shakespeare's</b> earliest plays and his shortest comedy: two pairs of twins, "
    "separated at birth, end up in the same city on the same day, and a chain of mistaken identities, "
    "wrongful arrests and accusations of madness follows before the family is reunited."
)


def products() -> list[dict[str, Any]]:
    """The product list of ``/api/v1/products``."""
    return [{"id": PRODUCT_ID, "title": PRODUCT_TITLE, "descriptionHtml": PRODUCT_DESCRIPTION_HTML}]


def book_details(product_id: int) -> dict[str, Any]:
    """details v1's answer for ``product_id`` (every id describes the same paperback)."""
    return {
        "id": product_id,
        "author": "William Shakespeare",
        "year": 1595,
        "type": "paperback",
        "pages": 200,
        "publisher": "PublisherA",
        "language": "English",
        "ISBN-10": "1234567890",
        "ISBN-13": "123-1234567890",
    }


def external_book_details(product_id: int) -> dict[str, Any]:
    """details v2's answer. The real v2 asks an external book API for ISBN 0486424618; the local workload
    has no egress, so it answers with a fixed stand-in for that edition (fields as v1, values of the
    external edition as far as known; nothing in the harness reads them)."""
    return {
        "id": product_id,
        "author": "William Shakespeare",
        "year": 2002,
        "type": "paperback",
        "pages": 80,
        "publisher": "Courier Corporation",
        "language": "English",
        "ISBN-10": "0486424618",
        "ISBN-13": "9780486424613",
    }


REVIEWERS = ("Reviewer1", "Reviewer2")
REVIEW_TEXTS = {
    "Reviewer1": "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
    "Reviewer2": (
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare."
    ),
}
DEFAULT_RATINGS = {"Reviewer1": 5, "Reviewer2": 4}

# Error texts, exactly as the real apps put them into JSON and HTML.
DETAILS_ERROR = "Sorry, product details are currently unavailable for this book."
REVIEWS_ERROR = "Sorry, product reviews are currently unavailable for this book."
RATINGS_ERROR = "Sorry, product ratings are currently unavailable for this book."
RATINGS_UNAVAILABLE = "Ratings service is currently unavailable"
