"""Chat's domain: the conversation aggregate and its lifecycle, messages and composer rules, who may act,
and the chat settings of queues and tenants. No I/O."""
