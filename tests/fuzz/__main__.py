from tests.fuzz.run import cli

cli()
