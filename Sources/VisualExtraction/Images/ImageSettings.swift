import Foundation

/// How images are prepared before they go to the teacher.
public struct ImageSettings: Codable, Sendable, Equatable {
    public enum Mode: String, Codable, Sendable {
        /// Resize to exactly width x height, aspect not kept (the paper: 512x512).
        case exact
        /// Longest side at most `max_side`, aspect kept.
        case maxSide = "max-side"
        /// Send the file's bytes as they are.
        case original
    }

    public var mode: Mode
    public var width: Int?
    public var height: Int?
    public var maxSide: Int?
    public var jpegQuality: Int?
    /// Images with more pixels are refused (decompression bombs).
    public var maxPixels: Int?

    public init(mode: Mode, width: Int? = nil, height: Int? = nil, maxSide: Int? = nil, jpegQuality: Int? = nil, maxPixels: Int? = nil) {
        self.mode = mode
        self.width = width
        self.height = height
        self.maxSide = maxSide
        self.jpegQuality = jpegQuality
        self.maxPixels = maxPixels
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case mode, width, height
        case maxSide = "max_side"
        case jpegQuality = "jpeg_quality"
        case maxPixels = "max_pixels"
    }

    public var quality: Int { jpegQuality ?? 95 }
    public var pixelLimit: Int { maxPixels ?? 178_956_970 }
}
