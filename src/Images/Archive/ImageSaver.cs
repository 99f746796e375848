using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MiniDocker.Images.Registry;

namespace MiniDocker.Images.Archive;

/// <summary>
/// `save`: images as one tar in both forms Docker 25+ writes: the docker-save form (<c>manifest.json</c>,
/// <c>repositories</c>) and an OCI image layout (<c>oci-layout</c>, <c>index.json</c>), sharing <c>blobs/sha256/</c>.
/// </summary>
/// <remarks>
/// The layer store keeps extracted layers, not the registry's blobs, so each layer is tarred again (uncompressed, as
/// Docker saves): its diff id is that tar's digest, and the config's <c>rootfs.diff_ids</c> are rewritten to match.
/// A saved image therefore has a new ID unless the re-tarred layers are byte-identical to the originals.
/// </remarks>
public sealed class ImageSaver(ImageStore store)
{
    private const string LayerMediaType = "application/vnd.oci.image.layer.v1.tar";
    private const string ConfigMediaType = "application/vnd.oci.image.config.v1+json";
    private const string ManifestMediaType = "application/vnd.oci.image.manifest.v1+json";

    private sealed record Blob(string Hex, long Size, string? File, byte[]? Bytes);

    public void Save(IReadOnlyList<string> references, Stream output)
    {
        var scratch = store.ScratchDirectory("save");
        try
        {
            var blobs = new Dictionary<string, Blob>();
            var layerBlobs = new Dictionary<string, Blob>(); // by source directory: a shared layer is tarred once
            var manifestJson = new JsonArray();
            var index = new JsonArray();
            var repositories = new JsonObject();
            foreach (var reference in references)
            {
                var image = store.Resolve(reference);
                var layers = new List<Blob>();
                foreach (var dir in store.LayerDirectories(image))
                {
                    if (!layerBlobs.TryGetValue(dir, out var blob))
                        layerBlobs[dir] = blob = TarLayer(dir, scratch, overlayWhiteouts: store.PulledConfigBytes(image) is not null);
                    blobs[blob.Hex] = blob;
                    layers.Add(blob);
                }
                var configBytes = Config(image, layers.Select(l => "sha256:" + l.Hex).ToList());
                var config = BytesBlob(configBytes);
                blobs[config.Hex] = config;

                var manifest = new JsonObject
                {
                    ["schemaVersion"] = 2,
                    ["mediaType"] = ManifestMediaType,
                    ["config"] = Descriptor(ConfigMediaType, config),
                    ["layers"] = new JsonArray(layers.Select(l => (JsonNode)Descriptor(LayerMediaType, l)).ToArray()),
                };
                var manifestBlob = BytesBlob(System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString()));
                blobs[manifestBlob.Hex] = manifestBlob;

                var repoTag = RepoTag(reference, image);
                var entry = Descriptor(ManifestMediaType, manifestBlob);
                if (repoTag is not null)
                {
                    var full = DistributionReference.Parse(repoTag);
                    entry["annotations"] = new JsonObject
                    {
                        ["io.containerd.image.name"] = $"{full.Domain}/{full.Path}:{full.TagOrLatest}",
                        ["org.opencontainers.image.ref.name"] = full.TagOrLatest,
                    };
                    var colon = repoTag.LastIndexOf(':');
                    var repo = repositories[repoTag[..colon]] as JsonObject ?? new JsonObject();
                    repo[repoTag[(colon + 1)..]] = layers.Count > 0 ? layers[^1].Hex : config.Hex;
                    repositories[repoTag[..colon]] = repo;
                }
                index.Add((JsonNode)entry);
                manifestJson.Add((JsonNode)new JsonObject
                {
                    ["Config"] = $"blobs/sha256/{config.Hex}",
                    ["RepoTags"] = repoTag is null ? new JsonArray() : new JsonArray(repoTag),
                    ["Layers"] = new JsonArray(layers.Select(l => (JsonNode)$"blobs/sha256/{l.Hex}").ToArray()),
                });
            }

            using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
            var now = DateTimeOffset.UtcNow;
            foreach (var dir in new[] { "blobs/", "blobs/sha256/" })
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, dir) { Mode = (UnixFileMode)0x1ED, ModificationTime = now });
            foreach (var blob in blobs.Values)
            {
                using var data = blob.File is { } file ? File.OpenRead(file) : (Stream)new MemoryStream(blob.Bytes!);
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"blobs/sha256/{blob.Hex}")
                {
                    Mode = (UnixFileMode)0x1A4, ModificationTime = now, DataStream = data,
                });
            }
            WriteText(writer, "index.json", new JsonObject
            {
                ["schemaVersion"] = 2, ["mediaType"] = "application/vnd.oci.image.index.v1+json", ["manifests"] = index,
            }.ToJsonString(), now);
            WriteText(writer, "manifest.json", manifestJson.ToJsonString(), now);
            WriteText(writer, "oci-layout", """{"imageLayoutVersion":"1.0.0"}""", now);
            WriteText(writer, "repositories", repositories.ToJsonString(), now);
        }
        finally
        {
            FileTree.Remove(Path.GetDirectoryName(scratch)!, Path.GetFileName(scratch));
        }
    }

    /// <summary>NAME:TAG when the image was named (Docker omits tags for an image given by ID).</summary>
    private static string? RepoTag(string reference, ImageRecord image)
    {
        if (image.Repository == ImageRecord.None)
            return null;
        var bare = reference.StartsWith("sha256:", StringComparison.Ordinal) ? reference[7..] : reference;
        if (image.Id.StartsWith(bare, StringComparison.Ordinal))
            return null;
        var name = ImageReference.Parse(reference);
        return $"{name.Repository}:{name.Tag}";
    }

    private static Blob TarLayer(string directory, string scratch, bool overlayWhiteouts)
    {
        var file = Path.Combine(scratch, Guid.NewGuid().ToString("N"));
        using (var stream = new FileStream(file, FileMode.CreateNew, FileAccess.Write))
            LayerTarWriter.Write(directory, stream, overlayWhiteouts);
        using var read = File.OpenRead(file);
        return new Blob(Convert.ToHexStringLower(SHA256.HashData(read)), read.Length, file, null);
    }

    private static Blob BytesBlob(byte[] bytes) => new(Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length, null, bytes);

    private static JsonObject Descriptor(string mediaType, Blob blob) => new()
    {
        ["mediaType"] = mediaType, ["digest"] = "sha256:" + blob.Hex, ["size"] = blob.Size,
    };

    /// <summary>The pulled config with its diff ids replaced, or one made from an imported image's settings.</summary>
    private byte[] Config(ImageRecord image, List<string> diffIds)
    {
        var config = ConfigObject(store, image);
        config["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(diffIds.Select(d => (JsonNode)d).ToArray()) };
        return System.Text.Encoding.UTF8.GetBytes(config.ToJsonString());
    }

    /// <summary>The registry config of a pulled image, or one made from an imported image's settings.</summary>
    internal static JsonObject ConfigObject(ImageStore store, ImageRecord image)
    {
        if (store.PulledConfigBytes(image) is { } pulled && JsonNode.Parse(pulled) is JsonObject config)
            return config;
        return new JsonObject
        {
            ["architecture"] = PlatformMatcher.Host().Architecture,
            ["os"] = "linux",
            ["created"] = GoTime(image.Created),
            ["config"] = Settings(image.Config),
            ["history"] = new JsonArray(new JsonObject { ["created"] = GoTime(image.Created), ["created_by"] = "minidocker image import" }),
        };
    }

    /// <summary>RFC 3339 in UTC ("Z"): Go's time parser reads the raw JSON string, so an escaped "+00:00" (\u002B) would fail skopeo and docker.</summary>
    internal static string GoTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The config's "config" object (Docker's capitalised keys) for <paramref name="c"/>.</summary>
    internal static JsonObject Settings(ImageConfig c)
    {
        var settings = new JsonObject();
        if (c.User is { } user) settings["User"] = user;
        if (c.ExposedPorts.Length > 0)
            settings["ExposedPorts"] = new JsonObject(c.ExposedPorts.Select(p => KeyValuePair.Create(p, (JsonNode?)new JsonObject())));
        if (c.Env.Length > 0) settings["Env"] = Strings(c.Env);
        if (c.Entrypoint.Length > 0) settings["Entrypoint"] = Strings(c.Entrypoint);
        if (c.Cmd.Length > 0) settings["Cmd"] = Strings(c.Cmd);
        if (c.WorkingDir is { } dir) settings["WorkingDir"] = dir;
        if (c.Labels is { Count: > 0 } labels)
            settings["Labels"] = new JsonObject(labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value)));
        if (c.StopSignal is { } signal) settings["StopSignal"] = signal;
        if (c.Volumes is { Length: > 0 } volumes)
            settings["Volumes"] = new JsonObject(volumes.Select(v => KeyValuePair.Create(v, (JsonNode?)new JsonObject())));
        return settings;
    }

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)v).ToArray());

    private static void WriteText(TarWriter writer, string name, string text, DateTimeOffset now)
    {
        using var data = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { Mode = (UnixFileMode)0x1A4, ModificationTime = now, DataStream = data });
    }
}
