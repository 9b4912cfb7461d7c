namespace BtrfsLite.Check;

// Placeholder: filled in by the phase's implementation.
internal static class TreeBlockWalker
{
    public static void Run(CheckContext ctx) { }
}
