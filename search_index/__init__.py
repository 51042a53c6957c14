"""The knowledge search index (Whoosh) behind core.ports.KnowledgeIndex: derived data."""

from search_index.whoosh_index import WhooshKnowledgeIndex

__all__ = ["WhooshKnowledgeIndex"]
