from stackplan.cli import main

main()
