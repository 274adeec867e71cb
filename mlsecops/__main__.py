from mlsecops.cli import main

main()
