using System.CommandLine;
using MiniDocker.Images;
using MiniDocker.Images.Archive;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker save IMAGE... [-o FILE]` (also `image save`).</summary>
public static class SaveCommand
{
    public static IEnumerable<Command> Create() => [CreateSave("save")];

    public static Command CreateSave(string verb)
    {
        var output = new Option<string>("--output", "-o") { Description = "Write to a file, instead of STDOUT" };
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var command = new Command(verb, "Save one or more images to a tar archive (streamed to STDOUT by default)") { output, images };
        command.SetAction(p =>
        {
            var saver = new ImageSaver(new ImageStore(Globals.StateRoot(p)));
            var names = p.GetValue(images)!;
            if (p.GetValue(output) is not { Length: > 0 } file)
            {
                if (!Console.IsOutputRedirected)
                    throw new ImageException("cowardly refusing to save to a terminal. Use the -o flag or redirect");
                using var stdout = Console.OpenStandardOutput();
                saver.Save(names, stdout);
                return 0;
            }
            // Written beside the target and renamed into place: a failed save never leaves a truncated archive.
            var full = Path.GetFullPath(file);
            var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}");
            try
            {
                using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
                {
                    saver.Save(names, stream);
                    stream.Flush(flushToDisk: true);
                }
                File.Move(temp, full, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ImageException($"failed to save to '{file}': {e.Message}", e);
            }
            finally
            {
                File.Delete(temp);
            }
            return 0;
        });
        return command;
    }
}
