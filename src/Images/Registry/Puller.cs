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
    /// <summary>Docker's default (max-concurrent-downloads).</summary>
    private const int ParallelDownloads = 3;

    public ImageRecord Pull(string reference)
    {
        // The layer threads block on reads whose I/O completes on pool threads; with the default minimum (one per
        // core) a busy pool would add threads only slowly, stalling the downloads.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 4 * ParallelDownloads), io);
        return PullAsync(reference).GetAwaiter().GetResult();
    }

    private async Task<ImageRecord> PullAsync(string text)
    {
        var reference = DistributionReference.Parse(text);
        if (!config.IsAllowed(reference.Domain))
            throw new ImageException($"pulling {reference.Familiar}: registry {reference.Domain} is not in allowed-registries (daemon.json)");
        using var client = new RegistryClient(config, reference);
        // Docker's first lines: the repository's path on its registry (library/busybox, not the familiar name).
        if (reference is { Tag: null, Digest: null })
            progress.Status($"Using default tag: {reference.TagOrLatest}");
        progress.Status($"{reference.Digest ?? reference.TagOrLatest}: Pulling from {reference.Path}");
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
        bool downloaded;
        ImageRecord record;
        using (layerStore.PinForPull())
        {
            // An image already stored whole needs nothing (Docker then prints no layer lines either).
            downloaded = !(store.HasImage(id) && diffIds.All(layerStore.Has));
            if (downloaded)
                PullLayers(client, layerStore, layers, diffIds);
            record = store.AddPulled(id, configJson, imageConfig, diffIds, reference.Digest is null ? reference.TagOrLatest : reference.Tag, repoDigest);
            FailPoint.Check("pull.image-recorded");
        }
        progress.Status($"Digest: {digest}");
        progress.Status(downloaded ? $"Status: Downloaded newer image for {reference.Familiar}"
            : $"Status: Image is up to date for {reference.Familiar}");
        return record;
    }

    /// <summary>
    /// Fetches the missing layers, <see cref="ParallelDownloads"/> at a time on threads of their own (each streams its
    /// blob through verification, decompression and extraction, which block). The first failure cancels the others
    /// (their half-extracted directories go) and is the one reported.
    /// </summary>
    private void PullLayers(RegistryClient client, LayerStore layerStore, IReadOnlyList<Descriptor> layers, IReadOnlyList<string> diffIds)
    {
        var report = new InOrderReport(progress, layers.Select(l => ShortId(l)).ToList());
        var missing = new List<int>();
        for (var i = 0; i < layers.Count; i++)
        {
            if (layerStore.Has(diffIds[i]))
            {
                report.Done(i, "Already exists");
                continue;
            }
            progress.Layer(ShortId(layers[i]), "Pulling fs layer");
            missing.Add(i);
        }
        foreach (var i in missing.Skip(ParallelDownloads))
            progress.Layer(ShortId(layers[i]), "Waiting");

        using var cancel = new CancellationTokenSource();
        var next = -1;
        Exception? failure = null;
        var workers = Enumerable.Range(0, Math.Min(ParallelDownloads, missing.Count)).Select(_ => new Thread(() =>
        {
            int k;
            while (!cancel.IsCancellationRequested && (k = Interlocked.Increment(ref next)) < missing.Count)
            {
                var i = missing[k];
                try
                {
                    var got = EnsureLayer(client, layerStore, layers[i], diffIds[i], cancel.Token);
                    report.Done(i, got ? "Pull complete" : "Already exists");
                }
                catch (Exception e)
                {
                    if (Interlocked.CompareExchange(ref failure, e, null) is null)
                        cancel.Cancel();
                    return;
                }
            }
        })
        { Name = "pull-layer" }).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        if (failure is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    private static string ShortId(Descriptor layer) => LayerStore.Hex(layer.Digest)[..12];

    /// <summary>Returns whether it fetched the layer (false: it was stored, perhaps by a concurrent pull).</summary>
    private bool EnsureLayer(RegistryClient client, LayerStore layers, Descriptor blob, string diffId, CancellationToken cancel)
    {
        var shortId = ShortId(blob);
        // The layer's lock makes concurrent pulls fetch it once: the second waits here, then finds it stored. A worker
        // holding a lock waits for nothing else (its slot is its thread), so pulls cannot deadlock on each other.
        using var held = layers.LockLayer(diffId);
        if (layers.Has(diffId))
            return false;
        progress.Layer(shortId, "Downloading", 0, blob.Size);
        using (var stream = client.OpenBlob(blob, have => progress.Layer(shortId, "Downloading", have, blob.Size), cancel))
            layers.Add(stream, blob.Digest, diffId, config.MaxLayerBytes);
        // Verified (digest and diff id), extracted and placed in one pass: Docker's last two steps have happened.
        progress.Layer(shortId, "Download complete");
        return true;
    }

    /// <summary>
    /// Final layer statuses in the manifest's order, as Docker prints them (it extracts in order): a layer that finished
    /// early waits for the ones before it, so the output does not depend on which download won.
    /// </summary>
    private sealed class InOrderReport(IPullProgress progress, IReadOnlyList<string> shortIds)
    {
        private readonly string?[] _final = new string?[shortIds.Count];
        private int _next;

        public void Done(int index, string status)
        {
            lock (_final)
            {
                _final[index] = status;
                while (_next < _final.Length && _final[_next] is { } ready)
                    progress.Layer(shortIds[_next++], ready);
            }
        }
    }
}
