from afbms.cli import main

raise SystemExit(main())
