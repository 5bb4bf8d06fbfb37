from edgeadapt.cli import main

main()
