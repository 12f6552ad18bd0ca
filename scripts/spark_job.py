"""What `spark-submit` runs: the `buyer-abuse` CLI, with the arguments given after this file
(docs/spark.md). spark-submit takes a Python file, not a console script; the CLI then joins the
JVM spark-submit started, on the master it was given."""

from pipeline.cli import main

if __name__ == "__main__":
    main()
