"""Chat's adapters: MongoDB documents, a repository per aggregate, and the read API's queries."""
