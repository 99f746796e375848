using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MiniDocker.Images.Archive;

namespace MiniDocker.Images.Registry;

/// <summary>
/// `push`: an image of the local store to a registry, as a Docker schema 2 manifest (what `docker push` sends) with
/// gzip layers. HEAD first, so blobs the registry has are not sent again; then the config, then the manifest.
/// </summary>
/// <remarks>
/// The layer store keeps layers extracted, not the registry's compressed blobs, so each layer is tarred again with
/// <see cref="LayerTarWriter"/> (sorted entries, file mtimes: the same tree gives the same bytes, so pushing twice
/// sends the same digests) and gzip-compressed, in one pass that hashes both the tar (the diff id) and the gzip
/// stream (the blob digest). When a re-tarred layer differs from the pulled one (another tar writer made it), the
/// config's <c>rootfs.diff_ids</c> are rewritten to match, as `save` does, and the pushed image has a new ID; an image
/// whose layers come out identical is pushed with its config byte for byte and keeps its ID.
/// </remarks>
public sealed class Pusher(ImageStore store, RegistryConfig config, TextWriter output)
{
    public const string ManifestMediaType = MediaTypes.DockerManifest;
    private const string ConfigMediaType = "application/vnd.docker.container.image.v1+json";
    private const string LayerMediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    /// <summary>Go's JSON readers (the registry, skopeo) parse times from the raw string: '+' must not become \u002B.</summary>
    private static readonly System.Text.Json.JsonSerializerOptions GoJson =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private sealed record Packed(string File, string Digest, long Size, string DiffId);

    /// <summary>Pushes <paramref name="text"/>; returns the manifest digest (what a pull of it shows).</summary>
    public string Push(string text) => PushAsync(text).GetAwaiter().GetResult();

    private async Task<string> PushAsync(string text)
    {
        var reference = DistributionReference.Parse(text);
        if (reference.Digest is not null)
            throw new ImageException($"cannot push a digest reference ({Display.Name(text)}): push a tag");
        if (!config.IsAllowed(reference.Domain))
            throw new ImageException($"pushing {reference.Familiar}: registry {reference.Domain} is not in allowed-registries (daemon.json)");
        var image = store.TryResolve(text)
                    ?? throw new ImageException($"An image does not exist locally with the tag: {reference.FamiliarRepository}");
        var tag = reference.TagOrLatest;
        output.WriteLine($"The push refers to repository [{reference.Domain}/{reference.Path}]");
        using var client = new RegistryClient(config, reference) { ForPush = true };
        var scratch = store.ScratchDirectory("push");
        try
        {
            var pulledConfig = store.PulledConfigBytes(image);
            var layers = store.LayerDirectories(image).Select(dir => Pack(dir, scratch, overlayWhiteouts: pulledConfig is not null)).ToList();
            var diffIds = layers.Select(l => l.DiffId).ToList();
            var configBytes = pulledConfig is not null && store.LayerDiffIds(image) is { } stored && stored.SequenceEqual(diffIds)
                ? pulledConfig
                : RewriteConfig(image, diffIds);
            var configDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(configBytes));

            foreach (var layer in layers.AsEnumerable().Reverse()) // Docker lists the top layer first
                await PushBlob(client, layer.Digest, layer.Size, () => File.OpenRead(layer.File), layer.Digest[7..19]);
            await PushBlob(client, configDigest, configBytes.Length, () => new MemoryStream(configBytes), null);

            var manifest = new JsonObject
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = ManifestMediaType,
                ["config"] = Descriptor(ConfigMediaType, configDigest, configBytes.Length),
                ["layers"] = new JsonArray(layers.Select(l => (JsonNode)Descriptor(LayerMediaType, l.Digest, l.Size)).ToArray()),
            };
            var manifestBytes = Encoding.UTF8.GetBytes(manifest.ToJsonString(GoJson));
            var digest = await client.PutManifest(tag, ManifestMediaType, manifestBytes);
            output.WriteLine($"{tag}: digest: {digest} size: {manifestBytes.Length}");
            // As Docker: the local image now knows its registry digest (when what was pushed is this image).
            if (configDigest == "sha256:" + image.Id && pulledConfig is not null)
                store.AddPulled(image.Id, pulledConfig, store.RegistryConfigOf(image)!, diffIds, tag: null,
                    $"{reference.FamiliarRepository}@{digest}", reference.FamiliarRepository);
            return digest;
        }
        finally
        {
            ImageStore.RemoveScratch(scratch);
        }
    }

    private async Task PushBlob(RegistryClient client, string digest, long size, Func<Stream> open, string? shortId)
    {
        if (await client.HasBlob(digest))
        {
            if (shortId is not null)
                output.WriteLine($"{shortId}: Layer already exists");
            return;
        }
        await client.UploadBlob(digest, size, open);
        if (!await client.HasBlob(digest))
            throw new ImageException($"blob {digest[..19]}: the registry accepted the upload but does not have it");
        if (shortId is not null)
            output.WriteLine($"{shortId}: Pushed");
    }

    /// <summary>Tars and gzips one layer directory into the scratch directory, hashing both streams as they pass.</summary>
    private static Packed Pack(string directory, string scratch, bool overlayWhiteouts)
    {
        var file = Path.Combine(scratch, Guid.NewGuid().ToString("N") + ".tar.gz");
        using var blob = new HashingWriteStream(new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16));
        string diffId;
        using (var gzip = new GZipStream(blob, CompressionLevel.Optimal, leaveOpen: true))
        using (var tar = new HashingWriteStream(gzip))
        {
            LayerTarWriter.Write(directory, tar, overlayWhiteouts);
            tar.Flush();
            diffId = "sha256:" + tar.HexDigest();
        }
        blob.Flush();
        return new Packed(file, "sha256:" + blob.HexDigest(), blob.Length, diffId);
    }

    private byte[] RewriteConfig(ImageRecord image, List<string> diffIds)
    {
        var document = ImageSaver.ConfigObject(store, image);
        document["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(diffIds.Select(d => (JsonNode)d).ToArray()) };
        return Encoding.UTF8.GetBytes(document.ToJsonString(GoJson));
    }

    private static JsonObject Descriptor(string mediaType, string digest, long size) => new()
    {
        ["mediaType"] = mediaType, ["size"] = size, ["digest"] = digest,
    };

    /// <summary>Writes through to <c>inner</c> (disposed with it) and hashes what passed; Length counts the bytes.</summary>
    private sealed class HashingWriteStream(Stream inner) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _written;

        public string HexDigest() => Convert.ToHexStringLower(_hash.GetHashAndReset());

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            _hash.AppendData(buffer);
            _written += buffer.Length;
        }

        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _written;
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                _hash.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
