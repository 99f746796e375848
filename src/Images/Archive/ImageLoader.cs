using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MiniDocker.Images.Layers;
using MiniDocker.Images.Registry;

namespace MiniDocker.Images.Archive;

/// <summary>
/// `load`: a docker-save archive (<c>manifest.json</c>) or an OCI image layout (<c>index.json</c>), as a tar, plain or
/// compressed. The archive is untrusted: only the files these formats name are kept (never extracted by their own
/// paths), every blob is checked against its digest, every layer against its config's diff id (the layer store's
/// safe extractor does the rest), and nothing is recorded unless every image of the archive verified.
/// </summary>
public sealed partial class ImageLoader(ImageStore store, long maxLayerBytes)
{
    private const long MaxJsonBytes = 8 << 20;

    /// <summary>Loads the archive and returns Docker's lines ("Loaded image: NAME:TAG" or "Loaded image ID: ...").</summary>
    public IReadOnlyList<string> Load(string archive)
    {
        var scratch = store.ScratchDirectory("load");
        try
        {
            var files = Unpack(archive, scratch);
            var images = files.ContainsKey("manifest.json") ? FromDockerManifest(files) : FromOciIndex(files);
            var layers = store.Layers;
            var lines = new List<string>();
            using (layers.PinForPull())
            {
                foreach (var image in images)
                {
                    foreach (var (file, diffId) in image.Layers.Zip(image.DiffIds))
                    {
                        using var held = layers.LockLayer(diffId);
                        if (!layers.Has(diffId))
                            layers.Add(file, "sha256:" + HashFile(file), diffId, maxLayerBytes);
                    }
                }
                foreach (var image in images)
                {
                    var id = Convert.ToHexStringLower(SHA256.HashData(image.ConfigJson));
                    if (image.RepoTags.Count == 0)
                    {
                        store.AddPulled(id, image.ConfigJson, image.Config, image.DiffIds, null, null);
                        lines.Add($"Loaded image ID: sha256:{id}");
                    }
                    foreach (var repoTag in image.RepoTags)
                    {
                        var name = ImageReference.Parse(repoTag);
                        store.AddPulled(id, image.ConfigJson, image.Config, image.DiffIds, name.Tag, null, name.Repository);
                        lines.Add($"Loaded image: {name.Repository}:{name.Tag}");
                    }
                }
            }
            return lines;
        }
        finally
        {
            FileTree.Remove(Path.GetDirectoryName(scratch)!, Path.GetFileName(scratch));
        }
    }

    private sealed record LoadedImage(byte[] ConfigJson, OciImageConfig Config, List<string> DiffIds, List<string> Layers,
        List<string> RepoTags);

    /// <summary>
    /// Copies the archive's regular files with an accepted name into <paramref name="scratch"/> under numbered names
    /// and returns name → copy. Symlinks (older docker save links shared layers) are followed by name, inside the
    /// archive only. Anything else (devices, '..', other paths) is ignored: it is never written anywhere.
    /// </summary>
    private static Dictionary<string, string> Unpack(string archive, string scratch)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        using var tar = TarDecompressor.Open(archive, out _);
        using var reader = new TarReader(tar);
        try
        {
            while (reader.GetNextEntry() is { } entry)
            {
                var name = Normalize(entry.Name);
                if (name is null || !AcceptedName().IsMatch(name))
                    continue;
                if (entry.EntryType is TarEntryType.SymbolicLink or TarEntryType.HardLink)
                {
                    var target = entry.EntryType == TarEntryType.HardLink ? Normalize(entry.LinkName)
                        : Normalize(Path.GetDirectoryName(name) is { Length: > 0 } dir ? $"{dir}/{entry.LinkName}" : entry.LinkName);
                    if (target is not null)
                        links[name] = target;
                    continue;
                }
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                    continue;
                if (name.EndsWith(".json", StringComparison.Ordinal) && entry.Length > MaxJsonBytes)
                    throw new ImageException($"invalid archive: '{name}' is {entry.Length} bytes, too large for JSON");
                var copy = Path.Combine(scratch, files.Count.ToString());
                using (var output = new FileStream(copy, FileMode.CreateNew, FileAccess.Write))
                    entry.DataStream.CopyTo(output);
                files[name] = copy;
            }
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or FormatException or OverflowException)
        {
            throw new ImageException($"invalid archive: {e.Message}", e);
        }
        foreach (var (link, target) in links)
            if (!files.ContainsKey(link) && files.TryGetValue(target, out var copy))
                files[link] = copy;
        return files;
    }

    /// <summary>The entry name with "./" and empty components removed; null when it climbs out ('..').</summary>
    private static string? Normalize(string raw)
    {
        var stack = new List<string>();
        foreach (var part in raw.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
                continue;
            if (part == "..")
            {
                if (stack.Count == 0)
                    return null;
                stack.RemoveAt(stack.Count - 1);
                continue;
            }
            stack.Add(part);
        }
        return string.Join('/', stack);
    }

    [GeneratedRegex(@"^(manifest\.json|index\.json|oci-layout|repositories|blobs/sha256/[a-f0-9]{64}|[a-f0-9]{64}(\.json|\.tar|/layer\.tar|/json|/VERSION))$")]
    private static partial Regex AcceptedName();

    private static string Require(Dictionary<string, string> files, string name) =>
        files.TryGetValue(name, out var file) ? file : throw new ImageException($"invalid archive: '{Display.Name(name)}' is missing");

    /// <summary>A file named blobs/sha256/HEX must hash to HEX (docker-save names all content that way since Docker 25).</summary>
    private static string Verified(Dictionary<string, string> files, string name)
    {
        var file = Require(files, name);
        // Older archives (and skopeo's) name the config HEX.json by its digest too; their layer.tar/HEX.tar names are
        // diff ids, which the layer store checks while extracting.
        var named = name.StartsWith("blobs/sha256/", StringComparison.Ordinal) ? name[13..]
            : name.Length == 69 && name.EndsWith(".json", StringComparison.Ordinal) ? name[..64] : null;
        if (named is not null && HashFile(file) != named)
            throw new ImageException($"invalid archive: '{name}' does not match its digest; nothing was loaded");
        return file;
    }

    private static string HashFile(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static List<LoadedImage> FromDockerManifest(Dictionary<string, string> files)
    {
        var manifest = ParseJson(files, "manifest.json") as JsonArray ?? throw new ImageException("invalid archive: manifest.json is not a list");
        var images = new List<LoadedImage>();
        foreach (var entry in manifest)
        {
            var configName = Normalize((string?)entry?["Config"] ?? "") ?? "";
            var configJson = File.ReadAllBytes(Verified(files, configName));
            var layerNames = entry?["Layers"]?.AsArray().Select(l => Normalize((string?)l ?? "") ?? "").ToList() ?? [];
            var layers = layerNames.Select(n => Verified(files, n)).ToList();
            var tags = entry?["RepoTags"]?.AsArray().Select(t => (string?)t).OfType<string>().ToList() ?? [];
            images.Add(Image(configJson, configName, layers, tags));
        }
        return images;
    }

    private static List<LoadedImage> FromOciIndex(Dictionary<string, string> files)
    {
        Require(files, "oci-layout");
        var index = ParseJson(files, "index.json");
        var images = new List<LoadedImage>();
        foreach (var descriptor in index["manifests"]?.AsArray() ?? [])
        {
            var digest = (string?)descriptor?["digest"] ?? "";
            var name = (string?)descriptor?["annotations"]?["io.containerd.image.name"];
            var manifest = Blob(files, digest);
            var document = JsonSerializer.Deserialize(manifest, RegistryJson.Default.ManifestDocument)
                           ?? throw new ImageException($"invalid archive: manifest {digest} is empty");
            if (document.IsIndex)
            {
                var entry = PlatformMatcher.Select(document.Manifests ?? [], PlatformMatcher.Host())
                            ?? throw new ImageException($"invalid archive: no manifest for {PlatformMatcher.Host()} in {digest}");
                document = JsonSerializer.Deserialize(Blob(files, entry.Digest), RegistryJson.Default.ManifestDocument)
                           ?? throw new ImageException($"invalid archive: manifest {entry.Digest} is empty");
                if (document.IsIndex)
                    throw new ImageException($"invalid archive: manifest {entry.Digest} is a nested index");
            }
            if (document.Config is not { } config || document.Layers is not { } layerDescriptors)
                throw new ImageException($"invalid archive: manifest {digest} has no config or no layers");
            var configJson = Blob(files, config.Digest);
            var layers = layerDescriptors.Select(l =>
            {
                if (!MediaTypes.IsLayer(l.MediaType))
                    throw new ImageException($"invalid archive: layer {l.Digest} is not a Linux layer tar");
                return Verified(files, BlobName(l.Digest));
            }).ToList();
            images.Add(Image(configJson, config.Digest, layers, name is null ? [] : [name]));
        }
        return images;
    }

    private static string BlobName(string digest) =>
        DistributionReference.DigestPattern().IsMatch(digest) ? $"blobs/sha256/{digest[7..]}"
        : throw new ImageException($"invalid archive: unsupported digest '{Display.Name(digest)}'");

    private static byte[] Blob(Dictionary<string, string> files, string digest)
    {
        var file = Verified(files, BlobName(digest));
        if (new FileInfo(file).Length > MaxJsonBytes)
            throw new ImageException($"invalid archive: {digest} is too large for a manifest or config");
        return File.ReadAllBytes(file);
    }

    private static JsonNode ParseJson(Dictionary<string, string> files, string name)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllBytes(Require(files, name))) ?? throw new ImageException($"invalid archive: {name} is empty");
        }
        catch (JsonException e)
        {
            throw new ImageException($"invalid archive: {name} is not valid JSON: {e.Message}", e);
        }
    }

    private static LoadedImage Image(byte[] configJson, string configName, List<string> layers, List<string> tags)
    {
        OciImageConfig config;
        try
        {
            config = JsonSerializer.Deserialize(configJson, RegistryJson.Default.OciImageConfig)
                     ?? throw new ImageException($"invalid archive: config {configName} is empty");
        }
        catch (JsonException e)
        {
            throw new ImageException($"invalid archive: config {configName} is not valid: {e.Message}", e);
        }
        var diffIds = config.Rootfs?.DiffIds ?? [];
        if (diffIds.Count != layers.Count)
            throw new ImageException($"invalid archive: config {configName} lists {diffIds.Count} diff ids for {layers.Count} layers");
        foreach (var diffId in diffIds)
            LayerStore.Hex(diffId);
        foreach (var tag in tags)
            if (!DistributionReference.TryParse(tag, out _, out _))
                throw new ImageException($"invalid archive: invalid image name '{Display.Name(tag)}'");
        return new LoadedImage(configJson, config, diffIds, layers, tags);
    }
}
