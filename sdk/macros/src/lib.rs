//! `#[tollgate_sdk::plugin]`: exports an `impl Plugin for T` as a Tollgate component.
//! Use it through `tollgate-sdk`, which re-exports it.

use proc_macro::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Ident, ImplItem, ItemImpl, parse_macro_input};

/// Exports an `impl tollgate_sdk::Plugin for T` as the component's world.
///
/// The world follows from the hooks the impl defines: `authorize` makes an authorizer,
/// `handle` a function, `select_route` a message router, anything else a filter. Name it
/// to be explicit: `#[plugin(filter)]`, `#[plugin(authorizer)]`, `#[plugin(function)]`,
/// `#[plugin(message_router)]`.
#[proc_macro_attribute]
pub fn plugin(attr: TokenStream, item: TokenStream) -> TokenStream {
    let imp = parse_macro_input!(item as ItemImpl);
    let explicit = if attr.is_empty() {
        None
    } else {
        Some(parse_macro_input!(attr as Ident))
    };
    match expand(explicit, &imp) {
        Ok(tokens) => tokens.into(),
        Err(e) => {
            let e = e.to_compile_error();
            quote!(#imp #e).into()
        }
    }
}

/// Each hook of the `Plugin` trait and the world it belongs to.
const HOOKS: &[(&str, &str)] = &[
    ("on_request", "filter"),
    ("on_response", "filter"),
    ("authorize", "authorizer"),
    ("handle", "function"),
    ("select_route", "message_router"),
];

/// The world a hook belongs to, if it is one.
fn world_of(hook: &Ident) -> Option<&'static str> {
    HOOKS.iter().find(|(h, _)| hook == h).map(|(_, w)| *w)
}

fn expand(explicit: Option<Ident>, imp: &ItemImpl) -> syn::Result<proc_macro2::TokenStream> {
    let Some((_, path, _)) = &imp.trait_ else {
        return Err(syn::Error::new(
            imp.span(),
            "#[plugin] goes on `impl tollgate_sdk::Plugin for YourType`",
        ));
    };
    if path.segments.last().is_none_or(|s| s.ident != "Plugin") {
        return Err(syn::Error::new(
            path.span(),
            "#[plugin] goes on an impl of `tollgate_sdk::Plugin`",
        ));
    }
    // The hooks defined, each with its world.
    let hooks: Vec<(&Ident, &str)> = imp
        .items
        .iter()
        .filter_map(|i| match i {
            ImplItem::Fn(f) => world_of(&f.sig.ident).map(|w| (&f.sig.ident, w)),
            _ => None,
        })
        .collect();
    // Filter hooks alone make a filter; any other hook picks its world.
    let picked = hooks.iter().find(|(_, w)| *w != "filter");
    let world = match (&explicit, picked) {
        (Some(w), _) => w.to_string(),
        (None, Some((_, w))) => (*w).to_owned(),
        (None, None) => "filter".to_owned(),
    };
    let export = match world.as_str() {
        "filter" => quote!(::tollgate_sdk::__export_filter!),
        "authorizer" => quote!(::tollgate_sdk::__export_authorizer!),
        "function" => quote!(::tollgate_sdk::__export_function!),
        "message_router" => quote!(::tollgate_sdk::__export_message_router!),
        other => {
            let span = explicit.as_ref().map_or_else(|| imp.span(), Ident::span);
            return Err(syn::Error::new(
                span,
                format!(
                    "unknown world `{other}`: use filter, authorizer, function or message_router"
                ),
            ));
        }
    };
    if let Some((hook, other)) = hooks.iter().find(|(_, w)| *w != world) {
        // Worlds as the WIT names them.
        let (world, other) = (world.replace('_', "-"), other.replace('_', "-"));
        let message = match picked {
            Some((first, _)) if explicit.is_none() && other != "filter" => format!(
                "a plugin is one world: `{first}` is a hook of the {world} world and `{hook}` \
                 of the {other} world"
            ),
            _ => format!("`{hook}` is never called in the {world} world"),
        };
        return Err(syn::Error::new(hook.span(), message));
    }
    let ty = &imp.self_ty;
    Ok(quote! {
        #imp
        #export(#ty);
    })
}
