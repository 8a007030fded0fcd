from trioxide.cli import main

main()
