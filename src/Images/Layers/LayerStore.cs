using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using MiniDocker.Linux;

namespace MiniDocker.Images.Layers;

/// <summary>
/// Image layers, each stored once by its diff id and shared by every image that has it:
/// <c>images/layers/&lt;diffid&gt;/diff/</c> (the extracted layer, an overlay lowerdir, whiteouts in overlay's form),
/// <c>layer.json</c>, and a short link <c>images/l/&lt;26 chars&gt; -&gt; ../layers/&lt;diffid&gt;/diff</c> as in Docker's
/// overlay2: a container's mount names its lowers by these links, relative to <c>images/l</c>, so a page of mount
/// options holds about 140 layers instead of about 50 with full paths.
/// </summary>
/// <remarks>
/// A layer is added under its own lock (<c>layers/.locks/&lt;diffid&gt;</c>), so concurrent pulls fetch it once: the
/// second finds it stored. A pulled blob streams straight into extraction in <c>layers/.tmp-PID-*</c> (no copy of the
/// blob is kept), renamed into place only once the blob's digest and the diff id matched; a killed pull's temp
/// directory is swept by the next pull or prune (its PID is gone), and its finished layers are reused.
/// Pulls hold <c>layers/.gc.lock</c> shared until their image is recorded; garbage collection takes it exclusively
/// (and skips when a pull runs), so it never deletes a layer a pull is about to name.
/// </remarks>
public sealed partial class LayerStore
{
    private const string TempPrefix = ".tmp-";
    private readonly string _imagesDir;

    public LayerStore(string imagesDir) => _imagesDir = imagesDir;

    private string LayersDir => Path.Combine(_imagesDir, "layers");
    private string LinksDir => Path.Combine(_imagesDir, "l");
    public string BlobsDir => Path.Combine(_imagesDir, "blobs");

    private string LayerDir(string diffId) => Path.Combine(LayersDir, Hex(diffId));

    public static string Hex(string digest) =>
        digest.StartsWith("sha256:", StringComparison.Ordinal) && DigestHex().IsMatch(digest[7..]) ? digest[7..]
        : throw new ImageException($"invalid layer digest '{Display.Name(digest)}'");

    /// <summary>The extracted layer (overlay whiteouts in it), for save and push to tar it again.</summary>
    public string DiffDir(string diffId) => Path.Combine(LayerDir(diffId), "diff");

    public bool Has(string diffId) => File.Exists(Path.Combine(LayerDir(diffId), "layer.json"));

    public LayerInfo Info(string diffId) =>
        JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(LayerDir(diffId), "layer.json")), LayerJson.Default.LayerInfo)
        ?? throw new ImageException($"layer {diffId}: layer.json is empty");

    /// <summary>The path a container's overlay names this layer by (the short link), recreated if a crash lost it.</summary>
    public string LowerDir(string diffId)
    {
        var info = Info(diffId);
        var link = Path.Combine(LinksDir, info.Link);
        if (!Path.Exists(link))
        {
            Directory.CreateDirectory(LinksDir);
            File.CreateSymbolicLink(link, Path.Combine("..", "layers", Hex(diffId), "diff"));
        }
        return link;
    }

    /// <summary>Shared while a pull runs: GC must not delete layers a pull is about to name.</summary>
    public FileLock PinForPull()
    {
        Directory.CreateDirectory(LayersDir);
        return FileLock.Acquire(Path.Combine(LayersDir, ".gc.lock"), shared: true);
    }

    /// <summary>The lock that makes concurrent pulls fetch and extract a layer once.</summary>
    public FileLock LockLayer(string diffId) => FileLock.Acquire(Path.Combine(LayersDir, ".locks", Hex(diffId)));

    /// <summary>
    /// Extracts the verified blob <paramref name="blobFile"/> (plain, gzip or zstd tar) as layer
    /// <paramref name="diffId"/>, checking the uncompressed stream's digest; nothing stays if anything fails.
    /// The caller holds <see cref="LockLayer"/>.
    /// </summary>
    public void Add(string blobFile, string blobDigest, string diffId, long maxUncompressedBytes = DefaultMaxLayerBytes)
    {
        FileStream blob;
        try
        {
            blob = new FileStream(blobFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException($"cannot open '{blobFile}': {e.Message}", e);
        }
        using (blob)
            Add(blob, blobDigest, diffId, maxUncompressedBytes);
    }

    /// <summary>
    /// Extracts the blob read from <paramref name="blob"/> (plain, gzip or zstd tar) as layer <paramref name="diffId"/>
    /// in one pass, as its bytes arrive: decompressed, hashed for the diff id, and written out by the safe extractor,
    /// with no copy of the blob on disk. The blob is read to its end before the layer is placed, so a stream that
    /// verifies its digest at the end (a registry's <c>BlobStream</c>) vetoes the layer. Nothing stays if anything
    /// fails. The caller holds <see cref="LockLayer"/>.
    /// </summary>
    public void Add(Stream blob, string blobDigest, string diffId, long maxUncompressedBytes = DefaultMaxLayerBytes)
    {
        if (maxUncompressedBytes <= 0)
            throw new ImageException($"max-layer-size must be a positive number of bytes, not {maxUncompressedBytes}");
        var hex = Hex(diffId);
        Directory.CreateDirectory(LayersDir);
        SweepLeftovers();
        var tempName = $"{TempPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}";
        var temp = Path.Combine(LayersDir, tempName);
        Directory.CreateDirectory(temp, StateRoot.PrivateMode);
        try
        {
            ExtractResult extracted;
            TarCompression compression = TarCompression.None;
            string actual;
            try
            {
                using var tar = TarDecompressor.Open(new KeepOpenStream(blob), $"layer {blobDigest}", out compression);
                using var capped = new SizeCappedStream(tar, maxUncompressedBytes);
                using var hashing = new ImageStore.HashingStream(capped);
                extracted = SafeTarExtractor.Extract(hashing, Path.Combine(temp, "diff"), overlayWhiteouts: true);
                hashing.CopyTo(Stream.Null); // the diff id covers the whole stream, padding included
                actual = "sha256:" + hashing.HexDigest();
            }
            catch (ImageException e)
            {
                // A blob that is not what the manifest names explains any failure to read it: say that instead.
                try
                {
                    blob.CopyTo(Stream.Null);
                }
                catch (ImageException mismatch) when (mismatch.Message.Contains(": digest mismatch", StringComparison.Ordinal))
                {
                    throw;
                }
                catch (Exception other) when (other is not OperationCanceledException)
                {
                    // The blob could not be read to its end either: the first error is the one to report.
                }
                if (e.Message.StartsWith("layer ", StringComparison.Ordinal))
                    throw;
                throw new ImageException($"layer {blobDigest}: {e.Message}", e);
            }
            blob.CopyTo(Stream.Null); // to its end: what the decoder left (a gzip trailer) and the blob's digest check
            if (actual != diffId)
                throw new ImageException($"layer {blobDigest}: its content has diff id {actual}, the image config says {diffId}; nothing was stored");
            using (var dir = Fd.OpenDirectory(temp))
                Libc.Check(Libc.syncfs(dir.Value), "syncfs", temp);
            var info = new LayerInfo
            {
                DiffId = diffId,
                BlobDigest = blobDigest,
                Compression = compression,
                Size = DiskUsage.Of(Path.Combine(temp, "diff")),
                Link = NewLinkName(),
                Created = DateTimeOffset.UtcNow,
                Extracted = extracted,
            };
            File.WriteAllBytes(Path.Combine(temp, "layer.json"), JsonSerializer.SerializeToUtf8Bytes(info, LayerJson.Default.LayerInfo));
            FailPoint.Check("pull.layer-extracted");
            if (Directory.Exists(LayerDir(diffId)))
                FileTree.Remove(LayersDir, hex); // a leftover without layer.json (a crash between rename and write cannot happen, but a hand edit can)
            Directory.Move(temp, LayerDir(diffId));
            using (var dir = Fd.OpenDirectory(LayersDir))
                dir.Fsync();
            LowerDir(diffId);
            FailPoint.Check("pull.layer-placed");
        }
        catch (Exception e) when (DiskFull.Is(e))
        {
            // Not retried (a retry would fill the disk again); the half-extracted layer goes below, giving the space back.
            throw new ImageException($"layer {blobDigest}: {DiskFull.Describe(e)}; nothing was stored", e);
        }
        finally
        {
            if (Directory.Exists(temp))
                RemoveQuietly(LayersDir, tempName);
        }
    }

    /// <summary>Deletes layers no image names; skipped while a pull runs. Returns the diff ids deleted.</summary>
    public IReadOnlyList<string> RemoveUnreferenced(IReadOnlySet<string> referencedDiffIds)
    {
        if (!Directory.Exists(LayersDir))
            return [];
        using var gc = FileLock.TryAcquire(Path.Combine(LayersDir, ".gc.lock"));
        if (gc is null)
            return [];
        SweepLeftovers();
        var deleted = new List<string>();
        foreach (var hex in Directory.EnumerateDirectories(LayersDir).Select(Path.GetFileName).OfType<string>()
                     .Where(n => DigestHex().IsMatch(n)).ToList())
        {
            var diffId = "sha256:" + hex;
            if (referencedDiffIds.Contains(diffId))
                continue;
            if (Has(diffId) && Info(diffId).Link is { Length: > 0 } link)
                File.Delete(Path.Combine(LinksDir, link));
            var trash = $".trash-{hex}-{Guid.NewGuid():N}";
            Directory.Move(LayerDir(diffId), Path.Combine(LayersDir, trash));
            RemoveQuietly(LayersDir, trash);
            deleted.Add(diffId);
        }
        // Lock files of layers no longer stored: safe under the exclusive GC lock, since a pull takes a layer's lock
        // only while it holds the GC lock shared, so no process holds or waits for any of them now.
        var locks = Path.Combine(LayersDir, ".locks");
        if (Directory.Exists(locks))
            foreach (var lockFile in Directory.EnumerateFiles(locks))
                if (!Directory.Exists(Path.Combine(LayersDir, Path.GetFileName(lockFile))))
                    File.Delete(lockFile);
        // Blob files of older versions' interrupted downloads (pulls now keep none).
        if (Directory.Exists(BlobsDir))
            foreach (var partial in Directory.EnumerateFiles(BlobsDir))
                File.Delete(partial);
        return deleted;
    }

    private void SweepLeftovers()
    {
        foreach (var path in Directory.EnumerateFileSystemEntries(LayersDir))
        {
            var name = Path.GetFileName(path);
            var match = TempNamePattern().Match(name);
            if (name.StartsWith(".trash-", StringComparison.Ordinal) || (match.Success && !Directory.Exists($"/proc/{match.Groups[1].Value}")))
                RemoveQuietly(LayersDir, name);
        }
    }

    private static void RemoveQuietly(string parent, string name)
    {
        try
        {
            FileTree.Remove(parent, name);
        }
        // SyscallException: another process or thread sweeping the same leftover removed part of it first.
        catch (Exception e) when (e is ImageException or SyscallException or IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>26 characters from A-Z0-9 as Docker's overlay2 uses: short, and unguessable is not needed (0700 store).</summary>
    private static string NewLinkName() =>
        string.Concat(RandomNumberGenerator.GetItems<char>("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 26));

    [GeneratedRegex("^[a-f0-9]{64}$")]
    private static partial Regex DigestHex();

    [GeneratedRegex(@"^\.tmp-(\d+)-")]
    private static partial Regex TempNamePattern();

    /// <summary>Default of <c>max-layer-size</c>: 64 GiB uncompressed.</summary>
    public const long DefaultMaxLayerBytes = 64L << 30;

    /// <summary>Lets the decoders close their end without closing the caller's blob stream.</summary>
    private sealed class KeepOpenStream(Stream inner) : ReadOnlyStream(inner)
    {
        public override int Read(Span<byte> buffer) => Inner.Read(buffer);

        public override int Read(byte[] buffer, int offset, int count) => Inner.Read(buffer, offset, count);

        protected override void Dispose(bool disposing)
        {
        }
    }

    /// <summary>Stops a decompression bomb: a few KiB of gzip can expand to terabytes.</summary>
    private sealed class SizeCappedStream(Stream inner, long limit) : ReadOnlyStream(inner)
    {
        private long _read;

        public override int Read(Span<byte> buffer)
        {
            var n = Inner.Read(buffer);
            _read += n;
            if (_read > limit)
                throw new ImageException($"expands to more than {limit} bytes uncompressed (max-layer-size in daemon.json); refused, nothing was stored");
            return n;
        }
    }
}

/// <summary><c>layers/&lt;diffid&gt;/layer.json</c>.</summary>
public sealed class LayerInfo
{
    public required string DiffId { get; set; }
    public required string BlobDigest { get; set; }
    public required TarCompression Compression { get; set; }
    public required long Size { get; set; }
    public required string Link { get; set; }
    public required DateTimeOffset Created { get; set; }
    public required ExtractResult Extracted { get; set; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(LayerInfo))]
internal sealed partial class LayerJson : JsonSerializerContext;
