"""The `rempart` command's commands, one module per group (`rempart.cli.commands.bank` holds
`rempart bank ...`). Each registers its commands on the app or group of `rempart.cli.core` when
it is imported and imports no other command module; `rempart.cli.COMMAND_MODULES` lists them
in the order `rempart --help` shows them."""
