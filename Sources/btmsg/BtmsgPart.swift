/// Messaging for people and agents: groups, channels, direct messages, ACLs, receipts, search, retention and push. Built in a later issue on the Bus.
///
/// This target exists so the package has the design card's folders from the start;
/// it holds no behaviour yet and no service is registered for it.
public enum BtmsgPart {
    public static let serviceName = "btmsg"
}
