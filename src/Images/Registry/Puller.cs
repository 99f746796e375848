using System.Text.Json;
using MiniDocker.Images.Layers;
using MiniDocker.Linux;

namespace MiniDocker.Images.Registry;

/// <summary>Where a pull reports what it does (the CLI prints it, as lines or as a live display).</summary>
public interface IPullProgress
{
    void Status(string line);
    void Layer(string shortId, string status, long current = 0, long total = 0);
}

/// <summary>
/// `pull`: resolves the reference to this machine's manifest, fetches the config, then the missing layers in parallel
/// (each under its lock, downloaded with verification, extracted and its diff id verified), and records the image.
/// </summary>
public sealed class Puller(ImageStore store, RegistryConfig config, IPullProgress progress)
{
    private const int ParallelDownloads = 3;

    public ImageRecord Pull(string reference) => PullAsync(reference).GetAwaiter().GetResult();

    private async Task<ImageRecord> PullAsync(string text)
    {
        var reference = DistributionReference.Parse(text);
        if (!config.IsAllowed(reference.Domain))
            throw new ImageException($"pulling {reference.Familiar}: registry {reference.Domain} is not in allowed-registries (daemon.json)");
        using var client = new RegistryClient(config, reference);
        if (reference.Digest is null)
            progress.Status($"{reference.TagOrLatest}: Pulling from {(reference.Domain == DistributionReference.DockerHub ? reference.Path : reference.FamiliarRepository)}");
        var (_, manifest, digest) = await client.GetManifest(reference.ManifestReference);
        var repoDigest = $"{reference.FamiliarRepository}@{digest}";
        if (manifest.IsIndex)
        {
            var host = PlatformMatcher.Host();
            var entry = PlatformMatcher.Select(manifest.Manifests ?? [], host)
                ?? throw new ImageException($"no matching manifest for {host} in the manifest list entries");
            (_, manifest, var platformDigest) = await client.GetManifest(entry.Digest);
            if (platformDigest != entry.Digest)
                throw new ImageException($"manifest {entry.Digest}: digest mismatch");
            // An index pointing at an index (or at itself) is not followed: one level, as Docker does.
            if (manifest.IsIndex)
                throw new ImageException($"manifest {entry.Digest} for {host} is itself an index; refusing to follow nested indexes");
        }
        FailPoint.Check("pull.manifest-fetched");
        if (manifest.Config is not { } configDescriptor || manifest.Layers is not { } layers)
            throw new ImageException($"manifest {digest} has no config or no layers");
        foreach (var layer in layers.Where(l => !MediaTypes.IsLayer(l.MediaType)))
            throw new ImageException($"layer {layer.Digest}: media type '{Display.Name(layer.MediaType ?? "")}' is not a Linux layer tar");

        var configJson = await client.GetSmallBlob(configDescriptor);
        OciImageConfig imageConfig;
        try
        {
            imageConfig = JsonSerializer.Deserialize(configJson, RegistryJson.Default.OciImageConfig)
                          ?? throw new ImageException($"image config {configDescriptor.Digest} is empty");
        }
        catch (JsonException e)
        {
            throw new ImageException($"image config {configDescriptor.Digest} is not valid: {e.Message}", e);
        }
        var diffIds = imageConfig.Rootfs?.DiffIds ?? [];
        if (diffIds.Count != layers.Count)
            throw new ImageException($"image config {configDescriptor.Digest} lists {diffIds.Count} diff ids for {layers.Count} layers");
        foreach (var diffId in diffIds)
            LayerStore.Hex(diffId); // refuses anything but sha256:<hex> before it names a path
        var id = LayerStore.Hex(configDescriptor.Digest);

        var layerStore = store.Layers;
        bool downloaded = false;
        ImageRecord record;
        using (layerStore.PinForPull())
        {
            using var slots = new SemaphoreSlim(ParallelDownloads);
            var tasks = layers.Select((layer, i) => Task.Run(async () =>
            {
                await slots.WaitAsync();
                try
                {
                    return await EnsureLayer(client, layerStore, layer, diffIds[i]);
                }
                finally
                {
                    slots.Release();
                }
            })).ToList();
            try
            {
                await Task.WhenAll(tasks);
            }
            catch
            {
                // The first failure is the one to report; the others' exceptions are observed here.
                throw tasks.Select(t => t.Exception?.InnerException).OfType<ImageException>().FirstOrDefault()
                      ?? tasks.First(t => t.IsFaulted).Exception!.InnerException!;
            }
            downloaded = tasks.Any(t => t.Result);
            var wasThere = store.HasImage(id);
            record = store.AddPulled(id, configJson, imageConfig, diffIds, reference.Digest is null ? reference.TagOrLatest : reference.Tag, repoDigest);
            downloaded |= !wasThere;
            FailPoint.Check("pull.image-recorded");
        }
        progress.Status($"Digest: {digest}");
        progress.Status(downloaded ? $"Status: Downloaded newer image for {reference.Familiar}"
            : $"Status: Image is up to date for {reference.Familiar}");
        return record;
    }

    /// <summary>Returns whether it fetched the layer (false: it was stored, perhaps by a concurrent pull).</summary>
    private async Task<bool> EnsureLayer(RegistryClient client, LayerStore layers, Descriptor blob, string diffId)
    {
        var shortId = LayerStore.Hex(blob.Digest)[..12];
        if (layers.Has(diffId))
        {
            progress.Layer(shortId, "Already exists");
            return false;
        }
        progress.Layer(shortId, "Pulling fs layer");
        using var held = await Task.Run(() => layers.LockLayer(diffId));
        if (layers.Has(diffId))
        {
            progress.Layer(shortId, "Already exists");
            return false;
        }
        Directory.CreateDirectory(layers.BlobsDir);
        var partial = Path.Combine(layers.BlobsDir, LayerStore.Hex(blob.Digest) + ".partial");
        // A cut download stays for the next pull to resume (it re-hashes it first); the client empties a blob whose
        // digest did not match, and that is removed here, as is one that does not extract.
        try
        {
            await client.DownloadBlob(blob, partial, have => progress.Layer(shortId, "Downloading", have, blob.Size));
        }
        catch (ImageException)
        {
            if (File.Exists(partial) && new FileInfo(partial).Length == 0)
                File.Delete(partial);
            throw;
        }
        FailPoint.Check("pull.blob-downloaded");
        progress.Layer(shortId, "Verifying Checksum");
        progress.Layer(shortId, "Download complete");
        progress.Layer(shortId, "Extracting", blob.Size, blob.Size);
        try
        {
            layers.Add(partial, blob.Digest, diffId, config.MaxLayerBytes);
        }
        finally
        {
            File.Delete(partial);
        }
        progress.Layer(shortId, "Pull complete");
        return true;
    }
}
