"""The Lambda functions' library: thin handlers, use-case services and AWS adapters."""
