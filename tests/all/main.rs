fn main() {
    for f in std::env::args().skip(1) {
        match tollgate::config::Config::load(std::path::Path::new(&f)) {
            Ok(_) => println!("{f}: ok"),
            Err(e) => println!("{e}"),
        }
    }
}
