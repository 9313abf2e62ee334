import BridgeApp
SMPPBridgeCommand.main()
