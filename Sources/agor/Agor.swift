@main struct Agor { static func main() {} }
