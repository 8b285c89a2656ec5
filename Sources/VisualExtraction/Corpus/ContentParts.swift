/// A turn's `content` written as a list of parts, the layout of the OpenAI chat format and of
/// the corpora made for TRL, Qwen-VL and ms-swift:
///
///     [{"type": "image", "image": "coco/1.jpg"}, {"type": "text", "text": "What is shown?"}]
///
/// The text parts become the turn's text, and an image part becomes an `<image>` token where it
/// stands, as LLaVA's converters write it, so the rest of vxt sees the same turn either way.
/// Where a part names its image (`image`, `path`, `image_url.url`, a `file://` URL), the path
/// is collected; an image only reachable over the network or inlined as `data:` is a problem
/// with what to do, since vxt reads images from files under `--images`.
enum ContentParts {
    struct Read {
        var text: String
        var images: [String]
        var video: Bool
    }

    static func read(_ parts: [JSONValue]) -> Result<Read, LLaVARecordDecoder.Reason> {
        var pieces: [String] = []
        var images: [String] = []
        var video = false
        for (index, part) in parts.enumerated() {
            let number = index + 1
            // A bare string among parts is text (some converters write them so).
            if let text = part.stringValue {
                pieces.append(text)
                continue
            }
            guard case .object = part else {
                return .failure(.init("content part \(number) is \(part.kindName); expected {\"type\": …}"))
            }
            guard let type = part["type"]?.stringValue else {
                return .failure(.init("content part \(number) has no `type` string (text, image or image_url)"))
            }
            switch type {
            case "text", "input_text":
                guard let text = part["text"]?.stringValue else {
                    return .failure(.init("content part \(number) is text without a `text` string"))
                }
                pieces.append(text)
            case "image", "image_url", "input_image":
                pieces.append("<image>")
                switch imageLocation(part) {
                case let .success(path?): images.append(path)
                case .success(nil): break
                case let .failure(reason): return .failure(.init("content part \(number): \(reason.text)"))
                }
            case "video", "video_url":
                video = true
                pieces.append("<video>")
            default:
                return .failure(.init("content part \(number) has type \"\(type)\"; vxt reads text, image and image_url parts"))
            }
        }
        // Parts are laid out one after another; LLaVA's converters put `<image>` on its own line.
        return .success(Read(text: join(pieces), images: images, video: video))
    }

    /// `<image>` and `<video>` on lines of their own, text parts joined as written.
    private static func join(_ pieces: [String]) -> String {
        var text = ""
        var previousWasToken = false
        for piece in pieces {
            let isToken = piece == "<image>" || piece == "<video>"
            if !text.isEmpty && (isToken || previousWasToken) && !text.hasSuffix("\n") { text += "\n" }
            text += piece
            previousWasToken = isToken
        }
        return text
    }

    /// The file an image part names, nil when it names none (its image is in the record's
    /// top-level `images`).
    private static func imageLocation(_ part: JSONValue) -> Result<String?, LLaVARecordDecoder.Reason> {
        let named: JSONValue? = part["image"] ?? part["path"] ?? part["url"] ?? part["image_url"]
        var location: String
        switch named {
        case nil, .null?: return .success(nil)
        case let .string(s)?: location = s
        case .object?:
            guard let url = named?["url"]?.stringValue else {
                return .failure(.init("`image_url` has no `url` string"))
            }
            location = url
        case let other?:
            return .failure(.init("the image is \(other.kindName); expected a path string"))
        }
        if location.hasPrefix("file://") { location.removeFirst("file://".count) }
        if location.hasPrefix("data:") {
            return .failure(
                .init(
                    "the image is inlined as a data: URL; vxt reads image files under --images: write the images out and give their paths"))
        }
        if location.hasPrefix("http://") || location.hasPrefix("https://") {
            let shown = location.count > 80 ? String(location.prefix(77)) + "…" : location
            return .failure(
                .init("the image is the URL \(shown); vxt reads image files under --images: download them and give their paths"))
        }
        return .success(location)
    }
}
