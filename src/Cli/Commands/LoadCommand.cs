using System.CommandLine;
using MiniDocker.Images;
using MiniDocker.Images.Archive;
using MiniDocker.Images.Registry;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker load [-i FILE] [-q]`: a docker-save archive or an OCI layout tar, from a file or STDIN.</summary>
public static class LoadCommand
{
    public static IEnumerable<Command> Create() => [CreateLoad("load")];

    public static Command CreateLoad(string verb)
    {
        var input = new Option<string>("--input", "-i") { Description = "Read from tar archive file, instead of STDIN" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress the load output" };
        var command = new Command(verb, "Load images from a tar archive (plain, gzip or zstd) or STDIN") { input, quiet };
        command.SetAction(p =>
        {
            var root = Globals.StateRoot(p);
            var store = new ImageStore(root);
            var loader = new ImageLoader(store, RegistryConfig.Load(root).MaxLayerBytes);
            IReadOnlyList<string> lines;
            if (p.GetValue(input) is { Length: > 0 } file)
            {
                lines = loader.Load(file);
            }
            else
            {
                if (!Console.IsInputRedirected)
                    throw new ImageException("requested load from stdin, but stdin is empty");
                // The archive is read twice (to find its index, then its blobs): a pipe is kept in the store first.
                var scratch = store.ScratchDirectory("stdin");
                try
                {
                    var copy = Path.Combine(scratch, "archive");
                    using (var stdin = Console.OpenStandardInput())
                    using (var output = new FileStream(copy, FileMode.CreateNew, FileAccess.Write))
                        stdin.CopyTo(output);
                    lines = loader.Load(copy);
                }
                finally
                {
                    ImageStore.RemoveScratch(scratch);
                }
            }
            if (!p.GetValue(quiet))
                foreach (var line in lines)
                    Console.WriteLine(line);
            return 0;
        });
        return command;
    }
}
