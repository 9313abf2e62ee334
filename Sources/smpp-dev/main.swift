import BridgeDevTools
SMPPDevCommand.main()
