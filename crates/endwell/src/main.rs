mod demo;

fn main() {}
