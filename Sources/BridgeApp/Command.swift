public struct SMPPBridgeCommand { public static func main() {} }
