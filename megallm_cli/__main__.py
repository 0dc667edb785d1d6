from megallm_cli.entry import main

main()
