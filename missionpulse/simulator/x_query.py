"""X's search query language, as far as the simulator answers it.

Terms: ``conversation_id:ID``, ``from:user``, ``to:user``, ``is:reply``, ``is:retweet``,
``is:quote``, ``lang:xx``, bare keywords and ``"quoted phrases"``; terms side by side are
ANDed (which binds tighter than ``OR``), ``-`` negates, parentheses group. A parsed query
is a predicate over tweets plus its *scope*: the conversations and accounts its matches
can come from, which is how the server finds candidates without scanning the world.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from missionpulse.simulator.world import Comment, Post


@dataclass(frozen=True)
class Tweet:
    """A post or a comment as X sees it; ``conversation_id`` is its post's id."""

    id: int
    created_ms: int
    post: Post
    comment: Comment | None
    conversation_id: str


class TweetFacts(Protocol):
    """What a query may ask about a tweet, answered by the API that renders it."""

    def tweet_text(self, tweet: Tweet) -> str: ...
    def author_username(self, tweet: Tweet) -> str: ...
    def recipient_username(self, tweet: Tweet) -> str: ...
    def tweet_lang(self, tweet: Tweet) -> str: ...


Predicate = Callable[[Tweet], bool]


@dataclass(frozen=True)
class Scope:
    """Where a query's matches can be: conversations, authors, or recipients (lower case)."""

    conversations: frozenset[str] = frozenset()
    authors: frozenset[str] = frozenset()
    recipients: frozenset[str] = frozenset()

    def __or__(self, other: Scope) -> Scope:
        return Scope(
            self.conversations | other.conversations,
            self.authors | other.authors,
            self.recipients | other.recipients,
        )


@dataclass(frozen=True)
class Query:
    predicate: Predicate
    scope: Scope | None  # None: the query is not restricted to a conversation or an account
    replies_in: frozenset[str] | None = None  # set for "replies in these conversations"


class QuerySyntaxError(Exception):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def replies_in(conversations: frozenset[str]) -> Query:
    """The replies in any of ``conversations`` (the post that started one is not a match)."""
    return Query(
        lambda t: t.comment is not None and t.conversation_id in conversations,
        Scope(conversations=conversations),
        conversations,
    )


_TOKEN = re.compile(r'\s*(\(|\)|-|"[^"]*"|[^\s()"]+)')
_ID = re.compile(r"[0-9]{1,19}")


def parse_query(text: str, facts: TweetFacts) -> Query:
    return _Parser(text, facts).parse()


class _Parser:
    def __init__(self, text: str, facts: TweetFacts) -> None:
        self._facts = facts
        self._tokens: list[tuple[str, int]] = []
        position = 0
        while (match := _TOKEN.match(text, position)) is not None and match.group(1):
            self._tokens.append((match.group(1), match.start(1) + 1))
            position = match.end()
        self._index = 0

    def parse(self) -> Query:
        if not self._tokens:
            raise QuerySyntaxError("Rules must contain at least one positive clause", 1)
        query = self._or()
        if self._index < len(self._tokens):
            token, position = self._tokens[self._index]
            raise QuerySyntaxError(f"extraneous input '{token}'", position)
        return query

    def _peek(self) -> str | None:
        return self._tokens[self._index][0] if self._index < len(self._tokens) else None

    def _or(self) -> Query:
        branches = [self._and()]
        while self._peek() == "OR":
            self._index += 1
            branches.append(self._and())
        if len(branches) == 1:
            return branches[0]
        if all(b.replies_in is not None for b in branches):
            return replies_in(frozenset().union(*(b.replies_in or () for b in branches)))
        predicates = [b.predicate for b in branches]
        scope: Scope | None = Scope()
        for branch in branches:
            scope = None if scope is None or branch.scope is None else scope | branch.scope
        return Query(lambda t: any(p(t) for p in predicates), scope)

    def _and(self) -> Query:
        terms = []
        while self._peek() not in (None, "OR", ")"):
            terms.append(self._unary())
        if not terms:
            position = self._tokens[min(self._index, len(self._tokens) - 1)][1]
            raise QuerySyntaxError("no viable alternative at input", position)
        if len(terms) == 1:
            return terms[0]
        predicates = [t.predicate for t in terms]
        scope = next((t.scope for t in terms if t.scope is not None), None)
        return Query(lambda t: all(p(t) for p in predicates), scope)

    def _unary(self) -> Query:
        token, position = self._tokens[self._index]
        self._index += 1
        if token == "-":
            inner = self._unary()
            return Query(lambda t: not inner.predicate(t), None)
        if token == "(":
            inner = self._or()
            if self._peek() != ")":
                raise QuerySyntaxError("Missing closing parenthesis", position)
            self._index += 1
            return inner
        return self._term(token, position)

    def _term(self, token: str, position: int) -> Query:
        facts = self._facts
        name, colon, value = token.partition(":")
        if token.startswith('"') or not colon:
            words = token.strip('"').lower()
            return Query(lambda t: words in facts.tweet_text(t).lower(), None)
        if name == "conversation_id" and _ID.fullmatch(value):
            return replies_in(frozenset({value}))
        user = value.lstrip("@").lower()
        if name == "from" and user:
            return Query(
                lambda t: facts.author_username(t).lower() == user, Scope(authors=frozenset({user}))
            )
        if name == "to" and user:
            return Query(
                lambda t: facts.recipient_username(t).lower() == user,
                Scope(recipients=frozenset({user})),
            )
        if name == "lang" and value:
            return Query(lambda t: facts.tweet_lang(t) == value, None)
        if name == "is" and value == "reply":
            return Query(lambda t: t.comment is not None, None)
        if name == "is" and value in ("retweet", "quote"):
            return Query(lambda t: False, None)  # the simulated accounts never repost or quote
        raise QuerySyntaxError(
            f"Reference to invalid operator '{name}'. Operator is not available in current "
            "product or product packaging.",
            position,
        )
