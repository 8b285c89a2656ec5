/// JSON string escaping for code that writes JSON text directly (request bodies, exports).
public enum JSONValueWriter {
    public static func string(_ s: String, to out: inout String) {
        JSONValue.writeString(s, to: &out)
    }
}
