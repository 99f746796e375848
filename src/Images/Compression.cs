using SharpCompress.Common;
using SharpCompress.Compressors;
using SharpCompress.Compressors.BZip2;
using SharpCompress.Compressors.Xz;
using SharpCompress.Compressors.ZStandard;

namespace MiniDocker.Images;

/// <summary>The container formats an imported tarball may come in, told apart by magic bytes only.</summary>
public enum TarCompression { None, Gzip, Xz, Bzip2, Zstd }

/// <summary>
/// Recognises a tarball's compression by its content (never by the file name) and opens a decompressing stream.
/// </summary>
/// <remarks>
/// gzip uses the framework's GZipStream (native zlib, and unlike SharpCompress's GZipStream it reads
/// multi-member files such as pigz output). xz, bzip2 and zstd use SharpCompress, whose 0.50.x releases carry a
/// managed zstd decoder (a port of ZstdSharp), so no native libzstd is needed and the code stays AOT-clean.
/// </remarks>
public static class TarDecompressor
{
    private const int TarHeaderSize = TarHeaders.BlockSize;

    /// <summary>The compression of a stream starting with <paramref name="head"/>, or null if it is no tarball.</summary>
    public static TarCompression? Detect(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith((ReadOnlySpan<byte>)[0x1F, 0x8B]))
            return TarCompression.Gzip;
        if (head.StartsWith((ReadOnlySpan<byte>)[0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0x00]))
            return TarCompression.Xz;
        if (head.Length >= 4 && head.StartsWith("BZh"u8) && head[3] is >= (byte)'1' and <= (byte)'9')
            return TarCompression.Bzip2;
        if (head.StartsWith((ReadOnlySpan<byte>)[0x28, 0xB5, 0x2F, 0xFD]))
            return TarCompression.Zstd;
        // Recognised by its checksum rather than the "ustar" magic, so pre-POSIX (v7) archives pass too.
        return TarHeaders.HasValidChecksum(head) ? TarCompression.None : null;
    }

    /// <summary>
    /// Opens <paramref name="file"/> and returns the uncompressed tar stream. Errors from a decoder surface as
    /// <see cref="ImageException"/> naming the format, so corrupt data is never mistaken for a bad tar header.
    /// </summary>
    public static Stream Open(string file, out TarCompression compression)
    {
        FileStream source;
        try
        {
            source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException($"cannot open '{file}': {e.Message}", e);
        }

        try
        {
            return Open(source, $"'{file}'", out compression);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The uncompressed tar stream of <paramref name="source"/> (read forward only, never seeked unless it is a file;
    /// a registry's response is decoded as it arrives). <paramref name="name"/> names the source in errors.
    /// Disposing the result disposes <paramref name="source"/>.
    /// </summary>
    public static Stream Open(Stream source, string name, out TarCompression compression)
    {
        var head = new byte[TarHeaderSize];
        var n = source.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (n == 0)
            throw new ImageException($"{name} is empty");
        compression = Detect(head.AsSpan(0, n)) ?? throw new ImageException(
            $"{name} is not a tar archive (expected a plain tar, or a gzip, xz, bzip2 or zstd compressed tar)");

        Stream rest = source is FileStream { CanSeek: true } file ? Rewind(file) : new PrefixedStream(head.AsMemory(0, n), source);
        Stream decoded = compression switch
        {
            TarCompression.None => rest,
            TarCompression.Gzip => new System.IO.Compression.GZipStream(rest, System.IO.Compression.CompressionMode.Decompress),
            TarCompression.Xz => new XZStream(rest),
            TarCompression.Bzip2 => BZip2Stream.Create(rest, CompressionMode.Decompress, decompressConcatenated: true),
            TarCompression.Zstd => new DecompressionStream(rest, leaveOpen: false),
            _ => throw new ArgumentOutOfRangeException(nameof(compression)),
        };
        return compression == TarCompression.None ? decoded : new DecoderErrorStream(decoded, compression);
    }

    private static Stream Rewind(FileStream source)
    {
        source.Position = 0;
        return source;
    }

    /// <summary>Replays the bytes read for detection in front of a stream that cannot seek (a pipe).</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream inner) : ReadOnlyStream(inner)
    {
        public override int Read(Span<byte> buffer)
        {
            if (prefix.IsEmpty)
                return Inner.Read(buffer);
            var n = Math.Min(prefix.Length, buffer.Length);
            prefix.Span[..n].CopyTo(buffer);
            prefix = prefix[n..];
            return n;
        }
    }

    private sealed class DecoderErrorStream(Stream inner, TarCompression compression) : ReadOnlyStream(inner)
    {
        public override int Read(Span<byte> buffer)
        {
            try
            {
                return Inner.Read(buffer);
            }
            catch (Exception e) when (e is SharpCompressException or InvalidDataException or EndOfStreamException)
            {
                throw new ImageException($"corrupt {compression.ToString().ToLowerInvariant()} data: {e.Message}", e);
            }
        }
    }
}

/// <summary>Base for the small forward-only wrappers: reading only, disposing the wrapped stream.</summary>
internal abstract class ReadOnlyStream(Stream inner) : Stream
{
    protected Stream Inner { get; } = inner;

    public abstract override int Read(Span<byte> buffer);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            Inner.Dispose();
        base.Dispose(disposing);
    }
}
