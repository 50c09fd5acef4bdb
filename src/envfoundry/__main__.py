from envfoundry.cli.main import main

raise SystemExit(main())
