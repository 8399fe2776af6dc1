"""Side-by-side benchmarks of shortlist against the LangChain and LlamaIndex built-ins.

Run ``python -m benchmarks.run`` (or ``python benchmarks/run.py``); ``--smoke`` is the
seconds-long version CI runs. Benchmarks are not tests: nothing here asserts a time.
"""
