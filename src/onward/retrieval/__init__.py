"""Retrieval: parse files to text, chunk by tokens, index chunks, search them.

parsing.py (bytes → text), chunking.py (text → token windows), embeddings.py (optional
vectors), index.py (the chunk tables and the keyword queries per database), search.py
(filters → SQL, keyword + vector search, fusion).
"""
